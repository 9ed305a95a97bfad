"""Date and number formats Herald uses in place of Django's for a language (FORMAT_MODULE_PATH):
English pages show ISO dates and 24-hour times, as contact centers outside the United States read
them; French, Italian and Arabic keep Django's own formats for their language."""
