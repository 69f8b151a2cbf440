"""Offseason's solver: a plan in, a schedule out. Pure: no database, network or clock."""
