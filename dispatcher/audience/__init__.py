"""Who is addressed: contact lists, phone numbers, opt-outs, the frequency cap and audience
counts."""
