#!/usr/bin/env python
from xunhuan.__main__ import main

if __name__ == "__main__":
    main()
