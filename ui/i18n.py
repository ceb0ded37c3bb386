"""Interface text in Indonesian and English.

Only the *interface* follows the language toggle; answers always follow the language of the question, which
the pipeline detects. Keeping every label in one table makes a missing translation a KeyError in the tests
rather than a half-translated page.
"""

from __future__ import annotations

from typing import Literal

UILang = Literal["id", "en"]
DEFAULT_LANG: UILang = "id"

MONTHS: dict[UILang, tuple[str, ...]] = {
    "id": (
        "Januari",
        "Februari",
        "Maret",
        "April",
        "Mei",
        "Juni",
        "Juli",
        "Agustus",
        "September",
        "Oktober",
        "November",
        "Desember",
    ),
    "en": (
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ),
}

TEXT: dict[UILang, dict[str, str]] = {
    "id": {
        "title": "Tanya Berita",
        "subtitle": "Tanya jawab atas arsip berita Indonesia — setiap jawaban disertai sumber yang bisa "
        "dicek.",
        "chat_label": "Percakapan",
        "chat_placeholder": "Ajukan pertanyaan tentang berita dalam bahasa Indonesia atau Inggris.",
        "question_label": "Pertanyaan",
        "question_placeholder": "Contoh: Siapa yang digantikan Belousov?",
        "send": "Kirim",
        "new_chat": "Obrolan baru",
        "examples": "Contoh pertanyaan",
        "settings": "Pengaturan",
        "k_label": "Jumlah sumber",
        "k_info": "Berapa banyak potongan artikel yang dipakai untuk menjawab.",
        "since_label": "Dari tanggal",
        "until_label": "Sampai tanggal",
        "date_placeholder": "TTTT-BB-HH (kosongkan untuk semua)",
        "outlets_label": "Media",
        "ask_model": "Tanya model (tunggu jawabannya)",
        "outlets_info": "Hanya artikel dari media ini (kosongkan untuk semua)",
        "backend_label": "Mesin jawaban",
        "backend_info": "auto: model lokal bila tersedia, selain itu kutipan langsung (extractive).",
        "upload": "Tambah artikel",
        "upload_files": "Berkas artikel (.txt, .md, .html, .jsonl)",
        "tab_chat": "Tanya jawab",
        "tab_articles": "Artikel",
        "chats": "Percakapan tersimpan",
        "chats_list": "Percakapan (terbaru di atas)",
        "chats_empty": "Belum ada percakapan tersimpan.",
        "chat_title": "Judul percakapan",
        "chat_rename": "Ganti judul",
        "chat_delete": "Hapus percakapan",
        "chat_export_md": "Ekspor Markdown",
        "chat_export_json": "Ekspor JSON",
        "chat_export_file": "Berkas ekspor",
        "chats_none_open": "Buka atau mulai percakapan terlebih dahulu.",
        "error_save": "Jawaban tidak tersimpan: {msg}",
        "feedback_comment_up": "Komentar (opsional): apa yang membantu?",
        "feedback_comment_down": "Komentar (opsional): apa yang salah atau kurang?",
        "feedback_send": "Kirim komentar",
        "feedback_thanks": "Terima kasih atas masukannya.",
        "feedback_unsaved": "Masukan tidak tersimpan: jawaban ini bukan bagian dari percakapan tersimpan.",
        "articles_filter": "Saring (id, judul, media, tanggal)",
        "articles_ids": "ID artikel yang akan dihapus (klik baris untuk memilih)",
        "articles_delete": "Hapus artikel",
        "articles_refresh": "Muat ulang",
        "articles_count": "Menampilkan {shown} dari {total} artikel.",
        "articles_none": "Pilih artikel yang akan dihapus terlebih dahulu.",
        "articles_deleted": "{n} artikel dihapus ({chunks} potongan).",
        "articles_missing": "Tidak ditemukan: {ids}.",
        "upload_button": "Masukkan ke arsip",
        "upload_hint": "Maksimal {size} per berkas. Artikel langsung bisa ditanyakan setelah dimasukkan.",
        "language_label": "Bahasa antarmuka",
        # sources panel
        "sources": "Sumber",
        "sources_empty": "Sumber yang dikutip akan muncul di sini. Klik nomor seperti [1] pada jawaban untuk "
        "membuka artikelnya.",
        "searching": "Mencari sumber…",
        "found": "Sumber ditemukan — jawaban sedang disusun…",
        "candidates": "Kandidat sumber",
        "cited": "Dikutip dalam jawaban",
        "related": "Terkait",
        "related_hint": "Ditemukan dan relevan, tetapi tidak dikutip.",
        "refused_title": "Tidak ada jawaban di arsip",
        "open_article": "Buka artikel lengkap",
        "article_missing": "Artikel ini tidak lagi ada di arsip.",
        "score": "skor",
        "untitled": "(tanpa judul)",
        "open_original": "Buka di situs asli",
        "earlier_answer": "Sumber untuk jawaban sebelumnya",
        # chat / status
        "empty_question": "Tulis pertanyaan terlebih dahulu.",
        "pending_search": "Mencari sumber…",
        "pending_answer": "Menyusun jawaban…",
        "error_question": "Pertanyaan tidak dapat diproses: {msg}",
        "error_dates": "Tanggal tidak valid: {msg}. Gunakan format TTTT-BB-HH, misalnya 2024-11-30.",
        "error_store": "Arsip berita sedang tidak dapat diakses ({msg}). Coba lagi sebentar lagi.",
        "error_empty": "Arsip masih kosong. Tambahkan artikel lewat “Tambah artikel” di bawah atau "
        "jalankan `newsqa ingest`.",
        "error_other": "Terjadi kesalahan saat menjawab ({msg}). Jika arsip (Chroma) sedang mati, "
        "nyalakan lagi lalu coba kembali.",
        "error_title": "Terjadi kesalahan",
        # upload report
        "up_none": "Pilih satu atau lebih berkas terlebih dahulu.",
        "up_refused_type": "ditolak: jenis berkas {suffix} tidak didukung (hanya {allowed})",
        "up_refused_size": "ditolak: {size} melebihi batas {limit}",
        "up_refused_empty": "ditolak: berkas kosong",
        "up_new": "baru",
        "up_updated": "diperbarui",
        "up_unchanged": "dilewati: sudah ada di arsip dan tidak berubah",
        "up_skipped": "dilewati: {reason}",
        "up_near_dup": "mirip dengan cerita yang sudah ada ({n})",
        "up_chunks": "{n} potongan",
        "up_chunks_1": "1 potongan",
        "up_articles": "{n} artikel",
        "up_articles_1": "1 artikel",
        "up_summary": "Selesai: {new} baru, {updated} diperbarui, {unchanged} tidak berubah, "
        "{skipped} dilewati, {refused} ditolak.",
        "up_progress": "Memproses {name}",
        "up_failed": "gagal: {msg}",
        "up_title": "Hasil unggahan",
    },
    "en": {
        "title": "News Q&A",
        "subtitle": "Question answering over an Indonesian news archive — every answer comes with checkable "
        "sources.",
        "chat_label": "Conversation",
        "chat_placeholder": "Ask a question about the news in Indonesian or English.",
        "question_label": "Question",
        "question_placeholder": "For example: Who did Belousov replace?",
        "send": "Send",
        "new_chat": "New chat",
        "examples": "Example questions",
        "settings": "Settings",
        "k_label": "Number of sources",
        "k_info": "How many article passages are used to answer.",
        "since_label": "From date",
        "until_label": "Until date",
        "date_placeholder": "YYYY-MM-DD (leave empty for all)",
        "outlets_label": "Outlets",
        "ask_model": "Ask the model (wait for its answer)",
        "outlets_info": "Only articles from these outlets (leave empty for all)",
        "backend_label": "Answer engine",
        "backend_info": "auto: the local model when available, otherwise direct quotes (extractive).",
        "upload": "Add articles",
        "upload_files": "Article files (.txt, .md, .html, .jsonl)",
        "tab_chat": "Ask",
        "tab_articles": "Articles",
        "chats": "Saved chats",
        "chats_list": "Chats (newest first)",
        "chats_empty": "No saved chats yet.",
        "chat_title": "Chat title",
        "chat_rename": "Rename",
        "chat_delete": "Delete chat",
        "chat_export_md": "Export Markdown",
        "chat_export_json": "Export JSON",
        "chat_export_file": "Exported file",
        "chats_none_open": "Open or start a chat first.",
        "error_save": "The answer was not saved: {msg}",
        "feedback_comment_up": "Comment (optional): what helped?",
        "feedback_comment_down": "Comment (optional): what was wrong or missing?",
        "feedback_send": "Send comment",
        "feedback_thanks": "Thank you for the feedback.",
        "feedback_unsaved": "Feedback not saved: this answer is not part of a saved chat.",
        "articles_filter": "Filter (id, title, outlet, date)",
        "articles_ids": "Article ids to delete (click rows to pick)",
        "articles_delete": "Delete articles",
        "articles_refresh": "Reload",
        "articles_count": "Showing {shown} of {total} articles.",
        "articles_none": "Pick the articles to delete first.",
        "articles_deleted": "{n} articles deleted ({chunks} passages).",
        "articles_missing": "Not found: {ids}.",
        "upload_button": "Add to the archive",
        "upload_hint": "Up to {size} per file. Articles can be asked about as soon as they are added.",
        "language_label": "Interface language",
        "sources": "Sources",
        "sources_empty": "The cited sources appear here. Click a number such as [1] in an answer to open its "
        "article.",
        "searching": "Searching for sources…",
        "found": "Sources found — writing the answer…",
        "candidates": "Candidate sources",
        "cited": "Cited in the answer",
        "related": "Related",
        "related_hint": "Found and relevant, but not cited.",
        "refused_title": "No answer in the archive",
        "open_article": "Open the full article",
        "article_missing": "This article is no longer in the archive.",
        "score": "score",
        "untitled": "(untitled)",
        "open_original": "Open the original",
        "earlier_answer": "Sources for an earlier answer",
        "empty_question": "Type a question first.",
        "pending_search": "Searching for sources…",
        "pending_answer": "Writing the answer…",
        "error_question": "The question cannot be processed: {msg}",
        "error_dates": "Invalid date: {msg}. Use the YYYY-MM-DD format, for example 2024-11-30.",
        "error_store": "The news archive cannot be reached right now ({msg}). Try again in a moment.",
        "error_empty": "The archive is empty. Add articles with “Add articles” below or run `newsqa ingest`.",
        "error_other": "Something went wrong while answering ({msg}). If the archive (Chroma) is down, "
        "start it again and retry.",
        "error_title": "Something went wrong",
        "up_none": "Choose one or more files first.",
        "up_refused_type": "refused: {suffix} files are not supported (only {allowed})",
        "up_refused_size": "refused: {size} is over the {limit} limit",
        "up_refused_empty": "refused: empty file",
        "up_new": "new",
        "up_updated": "updated",
        "up_unchanged": "skipped: already in the archive and unchanged",
        "up_skipped": "skipped: {reason}",
        "up_near_dup": "similar to an existing story ({n})",
        "up_chunks": "{n} passages",
        "up_chunks_1": "1 passage",
        "up_articles": "{n} articles",
        "up_articles_1": "1 article",
        "up_summary": "Done: {new} new, {updated} updated, {unchanged} unchanged, {skipped} skipped, "
        "{refused} refused.",
        "up_progress": "Processing {name}",
        "up_failed": "failed: {msg}",
        "up_title": "Upload results",
    },
}


def normalize_lang(value: object) -> UILang:
    """Map a toggle value or a browser locale ("en-US", "id") to a supported interface language."""
    text = str(value or "").strip().lower()
    return "en" if text.startswith("en") else DEFAULT_LANG


def t(lang: object, key: str, **kwargs: object) -> str:
    """The interface string ``key`` in ``lang``, formatted with ``kwargs``."""
    template = TEXT[normalize_lang(lang)][key]
    return template.format(**kwargs) if kwargs else template


def count(lang: object, key: str, n: int) -> str:
    """'1 article' / '3 articles': the ``<key>_1`` form when ``n == 1``."""
    return t(lang, f"{key}_1") if n == 1 else t(lang, key, n=n)


def human_size(n: int) -> str:
    """Bytes as a short human-readable size (decimal units, as upload limits are usually quoted)."""
    size = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{n} B"
