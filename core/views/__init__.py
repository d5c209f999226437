"""Read models the pages draw: the Overview lines, inventories and summaries."""
