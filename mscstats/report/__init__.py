"""The report: tables (the only place that rounds), figures, content, the PDF."""
