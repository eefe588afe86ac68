"""sensorpipe component package."""
