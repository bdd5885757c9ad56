//! Ranking chunks against a question with BM25 (the `bm25` crate: stemming,
//! stop words and Unicode normalisation for the configured language).
//!
//! Scores are BM25's: 0 means no word of the question occurs in the chunk;
//! higher is better, with no fixed top. They depend on the knowledge base (a
//! word that occurs in few chunks weighs more), so `/kb search` shows them to
//! help pick `min_score`.

use bm25::{Document, Language, SearchEngine, SearchEngineBuilder};

use crate::chunk::Chunk;
use crate::kb::KnowledgeBase;

/// A chunk that matched, with its score.
#[derive(Clone, Copy, Debug)]
pub struct Hit<'a> {
    /// The chunk.
    pub chunk: &'a Chunk,
    /// Its BM25 score (higher is better).
    pub score: f32,
}

/// A searchable knowledge base.
pub struct Index {
    engine: SearchEngine<u32>,
    kb: KnowledgeBase,
}

impl std::fmt::Debug for Index {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Index")
            .field("files", &self.kb.files)
            .field("chunks", &self.kb.chunks.len())
            .finish_non_exhaustive()
    }
}

impl Index {
    /// Indexes the chunks of `kb`, reading them as `language`.
    pub fn new(kb: KnowledgeBase, language: Language) -> Self {
        let documents = kb.chunks.iter().enumerate().filter_map(|(i, chunk)| {
            let id = u32::try_from(i).ok()?;
            Some(Document::new(id, one_line(&chunk.search_text())))
        });
        let engine = SearchEngineBuilder::<u32>::with_documents(language, documents).build();
        Self { engine, kb }
    }

    /// What was loaded: files, chunks, skipped files.
    pub fn knowledge_base(&self) -> &KnowledgeBase {
        &self.kb
    }

    /// The best `limit` chunks for `query` with a score above `min_score`,
    /// best first (ties in file order).
    pub fn search(&self, query: &str, limit: usize, min_score: f32) -> Vec<Hit<'_>> {
        let mut hits: Vec<(u32, f32)> = self
            .engine
            .search(&one_line(query), None)
            .into_iter()
            .filter(|result| result.score > min_score && result.score.is_finite())
            .map(|result| (result.document.id, result.score))
            .collect();
        hits.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        hits.into_iter()
            .filter_map(|(id, score)| {
                let chunk = self.kb.chunks.get(usize::try_from(id).ok()?)?;
                Some(Hit { chunk, score })
            })
            .take(limit)
            .collect()
    }
}

/// `text` with every run of whitespace made one space. The tokenizer's
/// Unicode normalisation drops line breaks from any text with a non-ASCII
/// character in it, gluing the words on either side together
/// (`times\nStandard` → `timesstandard`); spaces survive.
fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn index(chunks: &[(&str, Option<&str>, &str)]) -> Index {
        let kb = KnowledgeBase {
            chunks: chunks
                .iter()
                .map(|(source, heading, text)| {
                    Chunk::new(*source, heading.map(str::to_owned), *text)
                })
                .collect(),
            files: 1,
            ..KnowledgeBase::default()
        };
        Index::new(kb, Language::English)
    }

    #[test]
    fn ranks_the_chunk_that_answers_first() {
        let index = index(&[
            (
                "shipping.md",
                Some("Delivery times"),
                "Standard delivery takes 3 to 5 working days.",
            ),
            (
                "returns.md",
                Some("Refunds"),
                "Refunds are paid to the original payment method within 14 days.",
            ),
            (
                "warranty.txt",
                None,
                "Every product has a two-year warranty against defects.",
            ),
        ]);
        let hits = index.search("how long does delivery take?", 3, 0.0);
        assert_eq!(hits[0].chunk.source, "shipping.md");
        let hits = index.search("When do I get my refund", 3, 0.0);
        assert_eq!(hits[0].chunk.source, "returns.md");
        assert_eq!(hits.len(), 1, "only chunks with a matching word: {hits:?}");
        // Stemming: "defective" finds "defects".
        let hits = index.search("my kettle is defective", 3, 0.0);
        assert_eq!(hits[0].chunk.source, "warranty.txt");
    }

    #[test]
    fn unrelated_questions_and_the_threshold_give_nothing() {
        let index = index(&[("a.md", None, "Refunds are paid within 14 days.")]);
        assert!(
            index
                .search("what's the weather in Paris", 3, 0.0)
                .is_empty()
        );
        assert!(index.search("", 3, 0.0).is_empty());
        let score = index.search("refund", 3, 0.0)[0].score;
        assert!(
            index.search("refund", 3, score).is_empty(),
            "strictly above min_score"
        );
    }

    #[test]
    fn words_at_line_breaks_in_non_ascii_text_are_found() {
        let index = index(&[
            (
                "shipping.md",
                Some("Shipping › Delivery times"),
                "Express delivery\narrives the next day.",
            ),
            ("other.md", None, "Nothing relevant at all."),
        ]);
        let hits = index.search("when does it arrive", 3, 0.0);
        assert_eq!(hits.len(), 1, "{hits:?}");
        assert_eq!(hits[0].chunk.source, "shipping.md");
        assert_eq!(
            index.search("times", 3, 0.0).len(),
            1,
            "the heading's last word too"
        );
    }

    #[test]
    fn limit_and_ties_in_file_order() {
        let index = index(&[
            ("a.md", None, "gift cards"),
            ("b.md", None, "gift cards"),
            ("c.md", None, "gift cards"),
        ]);
        let hits = index.search("gift card", 2, 0.0);
        let sources: Vec<&str> = hits.iter().map(|h| h.chunk.source.as_str()).collect();
        assert_eq!(sources, ["a.md", "b.md"]);
    }

    #[test]
    fn an_empty_knowledge_base_finds_nothing() {
        let index = index(&[]);
        assert!(index.search("anything at all", 3, 0.0).is_empty());
    }
}
