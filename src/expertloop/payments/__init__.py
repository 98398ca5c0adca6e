"""Time and pay: tracked time, timesheets, rates, bonuses, the ledger, payouts and invoices."""
