"""Server-rendered staff pages for electronic work tickets: the work queue, the ticket page and supervision."""
