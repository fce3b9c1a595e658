"""Who is addressed: contact lists, phone numbers (E.164, masking), opt-outs and the
frequency cap."""
