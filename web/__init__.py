"""The web app: the single-slice page, the study page and the PACS page, served by `emphysema app`."""
