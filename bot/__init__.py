"""The Rasa assistant: domain, stories and rules, endpoints, and Rasa plugins."""
