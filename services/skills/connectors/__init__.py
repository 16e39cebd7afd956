"""One interface per connected system, spoken by its sandbox and by its real API client."""
