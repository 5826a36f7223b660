"""What a page's ground truth says and how text is put in one form before it is compared: the grammar of the
facts (facts.py and its fact_* helpers, math rendered by the vendored KaTeX) and the normalisation both a
reading and its truth go through (normalize.py).

A shared wing just above core: pages/ parses a page's facts with it as the page loads, accuracy/ and
grounding/ grade readings with it, samples_build/ writes facts it accepts. It imports nothing but core."""
