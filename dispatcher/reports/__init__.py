"""The drive's report: its data, words, tables, charts and spreadsheet figures."""
