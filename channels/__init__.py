"""The public edge: channels in, inbox, safeguarding screen, relay to Rasa, outbox out."""
