//! A fake OpenAI-compatible Chat Completions server.
