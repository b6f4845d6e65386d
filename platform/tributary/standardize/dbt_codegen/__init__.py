"""The dbt project's generated files, written from the data dictionary and the mappings."""
