"""Stage `report`: gathers every stage's results into reports/REPORT.md."""
