"""Protocol engines: share arithmetic (semi2k), boolean circuits (gmw); spdz2k comes later."""
