"""From an approved version to delivery rows: the campaign actions the CLI and the web
share (check, apply, list, show), firings, runs, the planner, the contact inventory,
previews."""
