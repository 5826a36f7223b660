"""Page inputs: the bundled samples, the user's own pages, page images as LightOnOCR expects them."""
