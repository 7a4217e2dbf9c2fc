"""Neuromorphic back-ends: a bit-exact emulation of Loihi 2's learning engine and neurons
(``loihi``), and lava-nc's simulator where it is installed (``lava_compat``)."""
