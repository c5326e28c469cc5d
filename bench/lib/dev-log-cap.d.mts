// Types for the `--import` preload (it exports nothing; importing it caps miniflare's Log level).
export {};
