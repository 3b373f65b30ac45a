"""What the officer reads: one line in Bahasa Indonesia and one in English per reason code."""

from __future__ import annotations

from typing import Any

# reason_code -> (Bahasa Indonesia, English); {placeholders} are filled from the decision details.
MESSAGES: dict[str, tuple[str, str]] = {
    "match": ("Wajah cocok. Serahkan bantuan kepada {name}.", "Face matches. Hand the aid to {name}."),
    "identified": ("Dikenali sebagai {name}. Serahkan bantuan.", "Identified as {name}. Hand the aid over."),
    "enrolled": ("Foto rujukan {name} direkam dan dikonfirmasi petugas.", "Reference photo of {name} recorded and confirmed by the officer."),
    "borderline_match": ("Kemiripan wajah meragukan. Periksa kartu identitas secara manual.", "Face similarity is borderline. Check the ID card manually."),
    "ambiguous_match": ("Wajah mirip lebih dari satu penerima. Minta kartu atau nomor penerima.", "Face resembles more than one recipient. Ask for the card or recipient number."),
    "face_mismatch": ("Wajah tidak cocok dengan penerima {recipient_id}.", "Face does not match recipient {recipient_id}."),
    "not_recognised": ("Wajah tidak dikenali di daftar penerima.", "Face not recognised on the roster."),
    "unknown_recipient": ("Nomor {recipient_id} tidak ada di daftar penerima titik ini.", "Recipient {recipient_id} is not on this point's roster."),
    "ineligible": ("Penerima {recipient_id} tidak berhak pada periode ini: {why}.", "Recipient {recipient_id} is not entitled this period: {why}."),
    "already_claimed": ("Sudah diambil pada {first_at} di {first_place}.", "Already collected on {first_at} at {first_place}."),
    "paid_elsewhere": ("Menurut buku besar pusat sudah dibayar pada {first_at} di {first_place} (catatan {entry}). Rujuk ke supervisor.",
                       "The central ledger shows a payout on {first_at} at {first_place} (entry {entry}). Refer to a supervisor."),
    "no_roster": ("Belum ada daftar penerima yang sah di perangkat.", "No valid roster is installed on this terminal."),
    "roster_expired": ("Daftar penerima sudah kedaluwarsa ({valid_until}).", "The roster has expired ({valid_until})."),
    "no_gps_fix": ("Menunggu sinyal GPS; penyaluran tanpa lokasi tidak diizinkan.", "Waiting for GPS; disbursement without a position is not allowed."),
    "no_template": ("Belum ada foto rujukan untuk penerima ini. Rujuk ke petugas.", "No reference template for this recipient. Refer to the officer."),
    "enrolment_required": ("Perekaman pertama: petugas periksa KTP lalu konfirmasi perekaman.", "First payout: officer checks the ID card, then confirms enrolment."),
    "liveness_failed": ("Kemungkinan foto/layar, bukan wajah langsung. Rujuk ke petugas.", "Possibly a photo or screen, not a live face. Refer to the officer."),
    "quality_failed": ("Foto wajah tidak memadai setelah beberapa kali. Rujuk ke petugas.", "No usable face after several attempts. Refer to the officer."),
    # quality prompts (retake)
    "liveness_retake": ("Tidak terlihat seperti wajah langsung. Minta penerima menatap kamera langsung, tanpa foto atau layar; ulangi.",
                        "Did not look like a live face. Ask the claimant to look straight at the camera, nothing held up; try again."),
    "no_face": ("Tidak ada wajah. Minta penerima menghadap kamera.", "No face found. Ask the claimant to face the camera."),
    "face_too_small": ("Wajah terlalu jauh. Minta penerima mendekat.", "Face too far. Move closer."),
    "too_dark": ("Terlalu gelap. Tambah cahaya.", "Too dark. More light."),
    "head_turned": ("Kepala menoleh. Minta menghadap lurus ke kamera.", "Head turned. Face the camera."),
    "multiple_faces": ("Lebih dari satu wajah. Hanya penerima di depan kamera.", "More than one face. Only the claimant in front of the camera."),
    "too_blurred": ("Gambar kabur. Minta penerima diam sejenak.", "Blurred. Ask the claimant to hold still."),
    "overexposed": ("Terlalu terang. Hindari cahaya langsung.", "Too bright. Avoid direct light."),
    "face_cut_at_edge": ("Wajah terpotong. Posisikan wajah di tengah.", "Face cut at the edge. Centre the face."),
    # the officer's head-turn check on a liveness referral (edge.claim.flow.active_check)
    "active_check_prompt": ("Minta penerima menoleh perlahan ke kiri, lalu ke kanan, sambil tetap di depan kamera.",
                            "Ask the claimant to turn the head slowly to the left, then to the right, staying in front of the camera."),
    "active_check_passed": ("Kepala menoleh {turn} derajat: wajah hidup. Petugas boleh menerima.",
                            "Head turned {turn} degrees: a live face. The officer may accept."),
    "active_check_no_turn": ("Kepala hanya menoleh {turn} derajat (perlu {need}). Foto atau layar tidak bisa menoleh. Ulangi sekali, lalu petugas memutuskan.",
                             "Head turned only {turn} degrees (need {need}). A photo or screen cannot turn. Try once more, then the officer decides."),
    "active_check_no_face": ("Wajah tidak terlihat cukup lama. Minta penerima tetap di depan kamera dan ulangi.",
                             "The face was not in view long enough. Ask the claimant to stay in front of the camera and try again."),
    "active_check_no_match": ("Wajah yang menoleh bukan wajah penerima {recipient_id}. Jangan terima tanpa pemeriksaan KTP.",
                              "The face that turned is not recipient {recipient_id}'s. Do not accept without checking the ID card."),
    "officer_override": ("Keputusan diubah petugas {officer_id}: {override_reason}.", "Decision overridden by officer {officer_id}: {override_reason}."),
}

GENERIC = ("Periksa kembali dan ulangi ({code}).", "Check and try again ({code}).")


class _Blank(dict):
    def __missing__(self, key: str) -> str:
        return "?"


def officer_message(code: str, **details: Any) -> dict[str, str]:
    """``{"id": …, "en": …}`` for a reason code; unknown codes get a generic line naming the code."""
    id_text, en_text = MESSAGES.get(code, GENERIC)
    fields = _Blank(code=code, **{k: v for k, v in details.items() if v is not None})
    return {"id": id_text.format_map(fields), "en": en_text.format_map(fields)}
