"""Ryu applications: ``ryu-manager apps.vnetsec`` loads the controller."""
