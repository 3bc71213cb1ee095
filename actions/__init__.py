"""Custom actions for the YouthLink assistant (rasa-sdk action server)."""
