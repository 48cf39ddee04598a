"""What serving the studio needs beside the page, free of gradio: the Hub files a Space preloads (``hub``), what the
page and console say about the weights (``status``), and ZeroGPU estimates and wrapping (``zerogpu``)."""
