"""How the service-desk connector (services/desk) is configured and, locally, wired to the simulator."""
