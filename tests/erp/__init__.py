"""Tests of the ERP data layer."""
