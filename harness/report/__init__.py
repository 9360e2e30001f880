"""From stored runs to what people read: runs -> per-cell statistics -> the leaderboard in the
paper's layout (Markdown, CSV, LaTeX, HTML, JSON), Pareto plots, exports and the published numbers
they are compared with."""
