"""Files for people: CSV read at any size with line numbers, and spreadsheets (xlsx, CSV)
written for Excel and WPS."""
