"""How the payroll sandbox computes pay: a month's payslip and a leaver's final pay, for the US and India.

Real rules, simplified where a sandbox can afford it (and said so): US federal withholding from the
2026 brackets and standard deduction for the W-4 filing status (a W-4 not furnished withholds as
single), Social Security and Medicare, a state estimate by work location, a vacation payout taxed at
the 22% supplemental rate; India's new-regime TDS (FY 2025-26 slabs, 75,000 standard deduction,
section 87A rebate up to 12 lakh, 4% cess), employee PF at 12% of basic up to the 15,000 wage
ceiling, professional tax, leave encashment at basic/26 a day, and gratuity under the Payment of
Gratuity Act: 15/26 of the last monthly basic per year of service (a part-year over six months
counts as a year), only after five years, capped at 20 lakh. Pure: no I/O.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

from services.skills.rules import GRATUITY_MIN_YEARS
from services.skills.connectors.payroll import FILING_STATUSES
from services.skills.connectors.workday import weekdays

CENT = Decimal("0.01")
INF = Decimal("Infinity")

_STANDARD_DEDUCTION = {"single": Decimal(16_100), "married_filing_jointly": Decimal(32_200), "head_of_household": Decimal(24_150)}
_BRACKETS = {  # upper bound of each bracket, rate (2026)
    "single": [(12_400, "0.10"), (50_400, "0.12"), (105_700, "0.22"), (201_775, "0.24"), (256_225, "0.32"), (640_600, "0.35"), (INF, "0.37")],
    "married_filing_jointly": [(24_800, "0.10"), (100_800, "0.12"), (211_400, "0.22"), (403_550, "0.24"), (512_450, "0.32"), (768_700, "0.35"), (INF, "0.37")],
    "head_of_household": [(17_700, "0.10"), (67_450, "0.12"), (105_700, "0.22"), (201_750, "0.24"), (256_200, "0.32"), (640_600, "0.35"), (INF, "0.37")],
}
SOCIAL_SECURITY, SOCIAL_SECURITY_WAGE_BASE, MEDICARE = Decimal("0.062"), Decimal(184_500), Decimal("0.0145")
SUPPLEMENTAL = Decimal("0.22")
#: State income tax by work location: Texas has none, Illinois is flat; New York and California are
#: progressive, estimated here at one effective rate (a sandbox's estimate, not tax advice).
STATE_RATE = {"Austin": Decimal(0), "Chicago": Decimal("0.0495"), "New York": Decimal("0.055"), "San Francisco": Decimal("0.06")}

_IN_SLABS = [(400_000, "0"), (800_000, "0.05"), (1_200_000, "0.10"), (1_600_000, "0.15"), (2_000_000, "0.20"), (2_400_000, "0.25"), (INF, "0.30")]
IN_STANDARD_DEDUCTION, IN_REBATE_LIMIT, IN_CESS = Decimal(75_000), Decimal(1_200_000), Decimal("0.04")
PF_RATE, PF_WAGE_CEILING, PROFESSIONAL_TAX = Decimal("0.12"), Decimal(15_000), Decimal(200)
BASIC_SHARE = Decimal("0.5")  # basic pay is half of gross in this org's salary structure
GRATUITY_CAP = Decimal(2_000_000)
#: An employer-administered group health plan: 30 days to notify the plan, 14 more for the election notice.
COBRA_NOTICE_DAYS = 44


def money(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def _progressive(income: Decimal, brackets: list[tuple[object, str]]) -> Decimal:
    tax, floor = Decimal(0), Decimal(0)
    for upper, rate in brackets:
        top = Decimal(upper)  # type: ignore[arg-type]
        if income > floor:
            tax += (min(income, top) - floor) * Decimal(rate)
        floor = top
    return tax


def us_federal_annual(salary: Decimal, filing_status: str | None) -> Decimal:
    status = filing_status if filing_status in FILING_STATUSES else "single"  # no W-4: withhold as single
    return _progressive(max(Decimal(0), salary - _STANDARD_DEDUCTION[status]), _BRACKETS[status])


def in_tds_annual(salary: Decimal) -> Decimal:
    taxable = max(Decimal(0), salary - IN_STANDARD_DEDUCTION)
    if taxable <= IN_REBATE_LIMIT:
        return Decimal(0)  # section 87A rebate
    return _progressive(taxable, _IN_SLABS) * (1 + IN_CESS)


@dataclass(frozen=True)
class Pay:
    gross: Decimal
    deductions: dict[str, Decimal]
    earnings: dict[str, Decimal] = field(default_factory=dict)

    @property
    def total_deductions(self) -> Decimal:
        return money(sum(self.deductions.values(), Decimal(0)))

    @property
    def net(self) -> Decimal:
        return money(self.gross - self.total_deductions)


def monthly(country: str, salary: Decimal, *, location: str, filing_status: str | None = None) -> Pay:
    """One regular month's pay."""
    gross = money(salary / 12)
    if country == "US":
        return Pay(gross, _us_deductions(salary, gross, location=location, filing_status=filing_status), {"Salary": gross})
    basic = money(gross * BASIC_SHARE)
    return Pay(gross, _in_deductions(salary, basic, share=Decimal(1)), {"Basic": basic, "Allowances": gross - basic})


def _us_deductions(salary: Decimal, wages: Decimal, *, location: str, filing_status: str | None, supplemental: Decimal = Decimal(0)) -> dict[str, Decimal]:
    federal_rate = us_federal_annual(salary, filing_status) / salary if salary else Decimal(0)
    taxed = wages + supplemental
    social = SOCIAL_SECURITY * taxed if salary <= SOCIAL_SECURITY_WAGE_BASE else SOCIAL_SECURITY * taxed * SOCIAL_SECURITY_WAGE_BASE / salary
    return {
        "Federal income tax": money(wages * federal_rate + supplemental * SUPPLEMENTAL),
        "Social Security": money(social),
        "Medicare": money(MEDICARE * taxed),
        "State income tax": money(STATE_RATE.get(location, Decimal(0)) * taxed),
    }


def _in_deductions(salary: Decimal, basic: Decimal, *, share: Decimal) -> dict[str, Decimal]:
    return {
        "Provident fund (employee)": money(PF_RATE * min(basic, PF_WAGE_CEILING * share)),
        "Professional tax": PROFESSIONAL_TAX if share > 0 else Decimal(0),
        "Income tax (TDS)": money(in_tds_annual(salary) / 12 * share),
    }


def service_years(hired: date, last_day: date) -> tuple[int, int]:
    """Completed years and the months beyond them, from the hire date to the last day worked."""
    months = (last_day.year - hired.year) * 12 + last_day.month - hired.month - (1 if last_day.day < hired.day else 0)
    return divmod(max(0, months), 12)


def gratuity(basic_monthly: Decimal, hired: date, last_day: date) -> tuple[bool, Decimal, int]:
    """Whether gratuity is due, how much, and the years it counts (Payment of Gratuity Act, 1972)."""
    years, months = service_years(hired, last_day)
    if years < GRATUITY_MIN_YEARS:
        return False, Decimal(0), years
    counted = years + (1 if months > 6 else 0)
    return True, money(min(GRATUITY_CAP, basic_monthly * 15 / 26 * counted)), counted


@dataclass(frozen=True)
class Final:
    pay: Pay
    pay_date: date
    years_of_service: int
    gratuity_eligible: bool
    documents: list[str]
    cobra_notice_due: date | None = None
    relieving_letter_date: date | None = None


def _last_business_day(day: date) -> date:
    end = day.replace(day=calendar.monthrange(day.year, day.month)[1])
    while end.weekday() >= 5:
        end -= timedelta(days=1)
    return end


def _working_days_after(day: date, count: int) -> date:
    while count:
        day += timedelta(days=1)
        count -= day.weekday() < 5
    return day


def final_pay(country: str, salary: Decimal, *, hired: date, last_day: date, leave_units: Decimal, location: str, filing_status: str | None = None) -> Final:
    """A leaver's final pay: the last month's salary up to the last day, unused leave paid out, and
    (India) gratuity. US: paid on the month's last business day, a COBRA election notice is due;
    India: the full and final settlement is paid within two working days (Code on Wages, s.17(2))
    with a relieving letter dated the last day."""
    gross_month = money(salary / 12)
    first = last_day.replace(day=1)
    month_end = last_day.replace(day=calendar.monthrange(last_day.year, last_day.month)[1])
    years, _ = service_years(hired, last_day)
    if country == "US":
        share = Decimal(weekdays(max(first, hired), last_day)) / Decimal(weekdays(first, month_end))
        earned = money(gross_month * share)
        payout = money(leave_units * salary / 2080)
        deductions = _us_deductions(salary, earned, location=location, filing_status=filing_status, supplemental=payout)
        pay = Pay(earned + payout, deductions, {"Salary to last day": earned, "Unused vacation paid out": payout})
        return Final(pay, max(_last_business_day(last_day), last_day), years, False, ["Final pay statement", "COBRA election notice"], cobra_notice_due=last_day + timedelta(days=COBRA_NOTICE_DAYS))
    share = Decimal((last_day - max(first, hired)).days + 1) / Decimal(month_end.day)
    basic = money(gross_month * BASIC_SHARE)
    earned = money(gross_month * share)
    encashment = money(leave_units * basic / 26)
    eligible, amount, counted = gratuity(basic, hired, last_day)
    deductions = _in_deductions(salary, money(basic * share), share=share)
    earnings = {"Salary to last day": earned, "Leave encashment": encashment, "Gratuity": amount}
    documents = ["Full and final settlement statement", "Relieving letter"]
    return Final(Pay(earned + encashment + amount, deductions, earnings), _working_days_after(last_day, 2), counted if eligible else years, eligible, documents, relieving_letter_date=last_day)
