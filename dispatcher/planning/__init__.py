"""From an approved version to delivery rows: firings, runs, the planner, the contact
inventory, previews."""
