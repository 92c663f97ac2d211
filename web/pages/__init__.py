"""The page scripts of the web app: each one line calling the module that draws the page."""
