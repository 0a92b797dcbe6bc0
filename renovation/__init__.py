"""gengxin's domain: renovation of old residential communities, and its web pages."""
