"""Streamlit-free view models that the app's pages draw.

  graphview / graphdraw   the Graph page: selection, filters, style, the drawn graph, pyvis HTML
  notes_table             the Notes page's table: filter, sort, page, edits
  asof / timeview / diff  looking back: the moments to look back to, the memory as of a date, field diffs
  insights                the Insights page's chart data
  reviewlist              the Review page's rows
  render                  ``safe_markdown``: reply and note text that makes the browser fetch nothing
  wording                 ``count``: "1 link", "2 links" -- every count phrase agrees with its number
"""
