"""What the approver reads before approving: what a version will send, in words, the
audience it reaches now, the diff against the last approved version, audit entries in
words."""
