-- JumpCloud's saved commands (POST /api/commands): a script, its OS and how it launches, stored until
-- it is run on systems (POST /api/runCommand). Each run is a row of jumpcloud_commands (what
-- /api/commandresults lists), tied to its saved command by name, as JumpCloud's results carry it.
CREATE TABLE jumpcloud_saved_commands (
    id text PRIMARY KEY,
    name text NOT NULL,
    command text NOT NULL,
    command_type text NOT NULL CHECK (command_type IN ('mac', 'windows', 'linux')),
    launch_type text NOT NULL DEFAULT 'manual',
    run_as text,
    timeout text NOT NULL DEFAULT '120',
    shell text,
    created_by text NOT NULL,
    created timestamp with time zone DEFAULT now() NOT NULL
);
CREATE INDEX jumpcloud_saved_commands_name ON jumpcloud_saved_commands (name);
CREATE INDEX jumpcloud_commands_name ON jumpcloud_commands (name);
