"""The shared marketing domain (organisation, customers, grid, tariffs, billing, ledger) and the ticket engine."""
