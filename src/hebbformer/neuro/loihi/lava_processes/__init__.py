"""lava processes hebbformer adds. lava's compiler imports every module in this folder when it
looks for process models, so it holds nothing else (``_lava`` only the lava pieces they share)
and imports lava only through the 3.11 fix."""
