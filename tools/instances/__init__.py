"""Checks tenant instance files the way the program reads them."""
