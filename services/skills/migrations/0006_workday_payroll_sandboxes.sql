-- The Workday-like sandbox: workers (Active, Terminated, Pre-Hire) with their manager and
-- compensation, time-off plans and balances by country, time-off requests with the Request Time Off
-- business process's statuses, and the Hire and Terminate business processes.
CREATE SEQUENCE workday_employee_ids START 300001;  -- employee IDs assigned at hire

CREATE TABLE workday_workers (
    id                 text PRIMARY KEY,                -- Workday ID (WID): 32 hex characters
    employee_id        text UNIQUE,                     -- assigned at hire; a pre-hire has none
    email              text NOT NULL UNIQUE,
    first_name         text NOT NULL,
    last_name          text NOT NULL,
    country            char(2) NOT NULL CHECK (country IN ('US', 'IN')),
    department         text NOT NULL,
    job_title          text NOT NULL,
    location           text NOT NULL,
    hire_date          date NOT NULL,                   -- a pre-hire's proposed start date
    manager_id         text REFERENCES workday_workers (id),
    status             text NOT NULL CHECK (status IN ('Active', 'Terminated', 'Pre-Hire')),
    annual_salary      numeric(12, 2) NOT NULL,
    currency           char(3) NOT NULL CHECK (currency IN ('USD', 'INR')),
    termination_date   date,                            -- the last day of work
    termination_reason text,
    updated_at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX workday_workers_manager ON workday_workers (manager_id);

CREATE TABLE workday_time_off_plans (
    name            text PRIMARY KEY,
    country         char(2) NOT NULL,
    unit            text NOT NULL CHECK (unit IN ('Hours', 'Days')),
    daily_quantity  numeric(4, 2) NOT NULL,             -- what one day off takes from the balance
    position        smallint NOT NULL                   -- display order
);
INSERT INTO workday_time_off_plans (name, country, unit, daily_quantity, position) VALUES
    ('Vacation', 'US', 'Hours', 8, 1),
    ('Sick', 'US', 'Hours', 8, 2),
    ('Earned Leave', 'IN', 'Days', 1, 3),
    ('Casual Leave', 'IN', 'Days', 1, 4),
    ('Sick Leave', 'IN', 'Days', 1, 5);

CREATE TABLE workday_time_off_balances (
    worker_id  text NOT NULL REFERENCES workday_workers (id),
    plan       text NOT NULL REFERENCES workday_time_off_plans (name),
    balance    numeric(7, 2) NOT NULL,                  -- accrued and not yet taken, as of as_of
    as_of      date NOT NULL,
    PRIMARY KEY (worker_id, plan)
);

CREATE TABLE workday_time_off_requests (
    id               text PRIMARY KEY,                  -- WID of the business process event
    worker_id        text NOT NULL REFERENCES workday_workers (id),
    plan             text NOT NULL REFERENCES workday_time_off_plans (name),
    start_date       date NOT NULL,
    end_date         date NOT NULL,
    quantity         numeric(7, 2) NOT NULL CHECK (quantity > 0),
    status           text NOT NULL CHECK (status IN ('Submitted', 'Approved', 'Denied', 'Canceled')),
    awaiting         text REFERENCES workday_workers (id),  -- whose action a submitted request awaits: the worker's manager
    decided_by       text REFERENCES workday_workers (id),
    comment          text NOT NULL DEFAULT '',
    idempotency_key  text NOT NULL UNIQUE,
    cancel_key       text UNIQUE,
    requested_by     text NOT NULL,                     -- the coworker whose token made the call
    ticket_id        text NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX workday_time_off_requests_worker ON workday_time_off_requests (worker_id, start_date);

-- Hire and Termination business processes the sandbox completed, and their rescission.
CREATE TABLE workday_staffing_events (
    id               text PRIMARY KEY,                  -- WID of the business process event
    seq              bigserial NOT NULL,                -- completion order: a later event may depend on an earlier one
    worker_id        text NOT NULL REFERENCES workday_workers (id),
    kind             text NOT NULL CHECK (kind IN ('Hire', 'Termination')),
    status           text NOT NULL CHECK (status IN ('Successfully Completed', 'Rescinded')),
    effective_date   date NOT NULL,
    reason           text,
    idempotency_key  text NOT NULL UNIQUE,
    rescind_key      text UNIQUE,
    initiated_by     text NOT NULL,                     -- the coworker whose token made the call
    ticket_id        text NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT now(),
    rescinded_at     timestamptz
);
CREATE INDEX workday_staffing_events_worker ON workday_staffing_events (worker_id, seq);

-- The payroll sandbox: who is paid (enrolment, with the US W-4 and I-9 or India's PAN, UAN and
-- provident fund), payslips by month, and final pay for leavers (US final paycheck and COBRA
-- notice; India full and final settlement with gratuity and relieving letter).
CREATE TABLE payroll_employees (
    id                text PRIMARY KEY,                 -- payroll's employee number, e.g. PR-US-100001
    worker_id         text NOT NULL,                    -- the Workday ID the HR integration sent
    employee_id       text NOT NULL,
    name              text NOT NULL,
    country           char(2) NOT NULL CHECK (country IN ('US', 'IN')),
    currency          char(3) NOT NULL CHECK (currency IN ('USD', 'INR')),
    location          text NOT NULL,
    annual_salary     numeric(12, 2) NOT NULL CHECK (annual_salary > 0),
    hire_date         date NOT NULL,
    status            text NOT NULL CHECK (status IN ('Active', 'Terminated')),
    w4_filing_status  text CHECK (w4_filing_status IN ('single', 'married_filing_jointly', 'head_of_household')),
    w4_furnished      boolean,                          -- false: no W-4 yet, withheld as single
    i9_status         text,
    i9_section2_due   date,
    pan               text,                             -- India: Permanent Account Number (never shown unmasked)
    uan               text,                             -- India: provident fund Universal Account Number
    pf_member         boolean,
    idempotency_key   text UNIQUE,
    enrolled_by       text,
    ticket_id         text,
    enrolled_at       timestamptz NOT NULL DEFAULT now(),
    CHECK ((country = 'US') = (currency = 'USD')),
    CHECK (country <> 'IN' OR (pan IS NOT NULL AND uan IS NOT NULL))
);
CREATE UNIQUE INDEX payroll_employees_active_worker ON payroll_employees (worker_id) WHERE status = 'Active';
CREATE UNIQUE INDEX payroll_employees_pan ON payroll_employees (pan) WHERE status = 'Active';

CREATE TABLE payroll_payslips (
    id                text PRIMARY KEY,
    employee          text NOT NULL REFERENCES payroll_employees (id),
    period            date NOT NULL,                    -- the first day of the month paid
    pay_date          date NOT NULL,
    currency          char(3) NOT NULL,
    gross             numeric(12, 2) NOT NULL,
    deductions        jsonb NOT NULL,                   -- name -> amount
    total_deductions  numeric(12, 2) NOT NULL,
    net               numeric(12, 2) NOT NULL,
    UNIQUE (employee, period)
);

CREATE TABLE payroll_final_pay (
    id                     text PRIMARY KEY,
    employee               text NOT NULL UNIQUE REFERENCES payroll_employees (id),  -- one final pay per employment
    kind                   text NOT NULL CHECK (kind IN ('Final Paycheck', 'Full and Final Settlement')),
    last_day               date NOT NULL,
    pay_date               date NOT NULL,
    currency               char(3) NOT NULL,
    earnings               jsonb NOT NULL,              -- name -> amount
    gross                  numeric(12, 2) NOT NULL,
    deductions             jsonb NOT NULL,
    total_deductions       numeric(12, 2) NOT NULL,
    net                    numeric(12, 2) NOT NULL,
    leave_units            numeric(7, 2) NOT NULL,      -- unused leave paid out (US hours, India days)
    years_of_service       smallint NOT NULL,
    gratuity_eligible      boolean NOT NULL,
    cobra_notice_due       date,
    relieving_letter_date  date,
    documents              text[] NOT NULL,
    status                 text NOT NULL CHECK (status IN ('Calculated', 'Paid')),
    idempotency_key        text NOT NULL UNIQUE,
    created_by             text NOT NULL,
    ticket_id              text NOT NULL,
    created_at             timestamptz NOT NULL DEFAULT now()
);
