"""Answering a search on one index state: filters, matching, ranking, pages, snippets."""

from __future__ import annotations

import heapq
from collections import Counter, defaultdict
from itertools import compress, islice

from ..analysis import (
    Highlighter,
)
from ..backend import (
    FACETS,
    FILTERS,
    SearchHit,
    SearchRequest,
    SearchResult,
)
from .plan import CANDIDATES, EXACT_TIER, MAX_SCORED, PLACE_TIER, Plan, evaluate
from .segments import K1, TIERS, Ordinals, Segment, State


class Searching:
    """The search half of WhooshBackend (a mixin): everything after the plan is made."""

    _ordinals: Ordinals

    # filters

    def _filter(self, seg: Segment, req: SearchRequest, kind: str, doc_only: bool = True) -> int:
        bits = seg.live & seg.values("kind").get(kind, 0)
        for f in FILTERS:
            if not bits:
                return 0
            if f.documents_only and not doc_only:
                continue
            allowed = getattr(req, f.request)
            if allowed is not None:
                values = seg.values(f.name)
                any_of = 0
                for v in allowed:
                    any_of |= values.get(v, 0)
                bits &= any_of
        if bits and req.dossier_id is not None:
            bits &= seg.postings("dossier_id", req.dossier_id).bits
        if bits and (req.date_from or req.date_to):
            bits &= seg.date_range(req.date_from, req.date_to)
        return bits

    def _match(self, seg: Segment, plan: Plan, bits: int) -> int:
        for unit in plan.units:
            if not bits:
                return 0
            bits &= evaluate(seg, unit.match)
        for expr in plan.excluded:
            if not bits:
                return 0
            bits &= ~evaluate(seg, expr)
        return bits

    # ranking

    def _places(self, seg: Segment, plan: Plan, bits: int) -> tuple[int, int, int]:
        """(phrase in the subject, every word in the subject, phrase in the text) of ``bits``:
        the ranking places, best first."""
        if not plan.title:
            subject = 0
        else:
            subject = bits
            for expr in plan.title:
                subject &= evaluate(seg, expr)
        phrase = subject
        for expr in plan.title_pairs:
            if not phrase:
                break
            phrase &= evaluate(seg, expr)
        text = bits
        for expr in plan.text_pairs:
            if not text:
                break
            text &= evaluate(seg, expr)
        return phrase, subject, text

    def _rank(self, state: State, seg: Segment, plan: Plan, bits: int, need: int):
        """The best ``need`` documents of ``bits``: [(score, yyyymmdd, doc)], best first (on
        equal scores the more recent)."""
        count = bits.bit_count()
        exact_units = [u for u in plan.units if u.exact is not None]
        places = self._places(seg, plan, bits)
        forced = 0
        if count <= MAX_SCORED:
            candidates = seg.docs(bits)
        else:
            # take whole tiers, best first, while they fit in the page depth; the tier that
            # does not fit is where the likely best ones are picked
            all_exact = bits
            for u in exact_units:
                all_exact &= evaluate(seg, u.exact)
            pool = bits
            for level in (*(all_exact & p for p in places), all_exact, *places, bits):
                level |= forced
                if level.bit_count() >= need:
                    pool = level & ~forced
                    break
                forced = level
            head = seg.docs(forced)
            candidates = head + self._candidates(seg, plan, pool, max(1, need - len(head)))
        lb, norm = seg.norms()
        terms = []
        for fieldname, text, weight, alias in [
            t for u in plan.units for t in u.scoring
        ] + plan.bonus:
            p = seg.postings(fieldname, text, alias)
            if p.tf is not None or p.df:
                w = weight * state.idf(fieldname, text) * (K1 + 1)
                terms.append((p.tf if p.tf is not None else seg.bytemap(p.bits), w))
        exact_maps = []
        for u in exact_units:
            if u.exact.op == "term":
                p = seg.postings(u.exact.fieldname, u.exact.text, u.exact.alias)
                exact_maps.append(p.tf if p.tf is not None else seg.bytemap(p.bits))
            else:
                exact_maps.append(seg.bytemap(evaluate(seg, u.exact)))
        phrase, subject, text = (seg.bytemap(p) for p in places)
        seg.dates()
        day_of = seg.data.day_of
        scored = []
        for d in candidates:
            nd = norm[lb[d]]
            s = 0.0
            for tf, w in terms:
                f = tf[d]
                if f:
                    s += w * f / (f + nd)
            for xm in exact_maps:
                if xm[d]:
                    s += EXACT_TIER
            if phrase[d]:
                s += 3 * PLACE_TIER
            elif subject[d]:
                s += 2 * PLACE_TIER
            elif text[d]:
                s += PLACE_TIER
            scored.append((round(s, 4), day_of[d], -d))
        return [(s, day, -nd) for s, day, nd in heapq.nlargest(need, scored)]

    def _candidates(self, seg: Segment, plan: Plan, pool: int, need: int) -> list[int]:
        """About CANDIDATES + need documents of ``pool`` likely to score best: those where the
        query's words occur most often (all of the highest frequency tier that has fewer than
        ``need`` documents, then the next tier in index order)."""
        mains = [seg.postings(f, t) for u in plan.units for f, t in u.main]
        mains = [p for p in mains if p.tf is not None]
        chosen = 0
        for threshold in TIERS:
            tier = 0
            for p in mains:
                tier |= p.tier(threshold)
            tier &= pool
            if tier.bit_count() >= need:
                break
            chosen = tier
        else:
            tier = pool
        head = seg.docs(chosen)
        rest = seg.docs(tier & ~chosen, max(0, CANDIDATES + need - len(head)))
        return head + rest

    def _by_date(self, seg: Segment, bits: int, need: int, descending: bool) -> list:
        """The first ``need`` documents of ``bits`` by date: [(yyyymmdd, doc)]; undated last."""
        days, order, reverse, dated = seg.dates()
        bm = seg.bytemap(bits)
        seq = reverse if descending else order
        picked = list(islice(compress(seq, map(bm.__getitem__, seq)), need))
        if len(picked) < need:
            picked += seg.docs(bits & ~dated, need - len(picked))
        day_of = seg.data.day_of
        return [(day_of[d], d) for d in picked]

    # documents

    def _search_documents(self, state: State, req: SearchRequest, plan: Plan) -> SearchResult:
        need = req.page * req.page_size
        by_relevance = req.sort == "relevance" and bool(plan.units)
        facets: dict[str, Counter] = {f: Counter() for f in FACETS} if req.facets else {}
        total = 0
        top = []
        for si, seg in enumerate(state.segments):
            bits = self._filter(seg, req, "document")
            if bits:
                bits = self._match(seg, plan, bits)
            if not bits:
                continue
            total += bits.bit_count()
            for fieldname, counter in facets.items():
                for value, vbits in seg.values(fieldname).items():
                    c = (bits & vbits).bit_count()
                    if c and value:
                        counter[value] += c
            if by_relevance:
                top += [
                    (score, day, -si, -d, si, d)
                    for score, day, d in self._rank(state, seg, plan, bits, need)
                ]
            else:
                desc = req.sort != "date_asc"
                for day, d in self._by_date(seg, bits, need, desc):
                    key = (day if desc else -day) if day else -(10**9)
                    top.append((key, 0, -si, -d, si, d))
        top = heapq.nlargest(need, top)[need - req.page_size :]
        hits = self._hits(
            state, req, plan, [(si, d, k[0] if by_relevance else None) for *k, si, d in top]
        )
        return SearchResult(
            hits=hits,
            total=total,
            total_is_estimate=False,
            facets={f: dict(c.most_common()) for f, c in facets.items()},
        )

    # dossiers

    def _search_dossiers(self, state: State, req: SearchRequest, plan: Plan) -> SearchResult:
        """Dossiers whose own metadata matches, or with a matching document.

        Filters apply to the dossier record; a document only counts as evidence if it passes
        the same filters a document search would apply (so nothing hidden leaks through). With
        type or direction filters only documents can match (dossiers have neither).
        """
        need = req.page * req.page_size
        own_allowed = all(getattr(req, f.request) is None for f in FILTERS if f.documents_only)
        by_relevance = req.sort == "relevance" and bool(plan.units)
        scores: dict[int, float] = {}  # dossier ordinal -> best score
        best_doc: dict[int, tuple[int, int]] = {}  # dossier ordinal -> (segment, doc)
        matched: set[int] = set()
        records: dict[int, tuple[int, int]] = {}  # ordinal -> (segment, doc) of allowed records
        for si, seg in enumerate(state.segments):
            dossier_of, record_of = seg.dossiers(self._ordinals)
            allowed = self._filter(seg, req, "dossier", doc_only=False)
            allowed_map = seg.bytemap(allowed)  # includes: live, a dossier record
            for ordinal, d in record_of.items():
                if allowed_map[d]:
                    records[ordinal] = (si, d)
            if plan.units or plan.excluded:
                evidence = self._match(seg, plan, self._filter(seg, req, "document"))
                own = self._match(seg, plan, allowed) if own_allowed else 0
            else:  # no query: every allowed dossier (with a document passing the filters)
                evidence = 0 if own_allowed else self._filter(seg, req, "document")
                own = allowed if own_allowed else 0
            docs = seg.docs(evidence | own)
            matched.update(map(dossier_of.__getitem__, docs))
            if by_relevance and (evidence | own):
                # the best documents decide the order; 10 per dossier on the page is plenty
                for score, _day, d in self._rank(state, seg, plan, evidence | own, need * 10):
                    o = dossier_of[d]
                    if score > scores.get(o, -1.0):
                        scores[o], best_doc[o] = score, (si, d)
        result_ids = [o for o in matched if o in records]
        facets: dict[str, Counter] = {}
        if req.facets:
            facets = {"type_code": Counter(), "year": Counter(), "fonds_code": Counter()}
            per_seg: dict[int, list[int]] = defaultdict(list)
            for o in result_ids:
                si, d = records[o]
                per_seg[si].append(d)
            for si, ds in per_seg.items():
                seg = state.segments[si]
                rbits = seg.bits_of(ds)
                for fieldname in ("year", "fonds_code"):
                    for value, vbits in seg.values(fieldname).items():
                        c = (rbits & vbits).bit_count()
                        if c and value:
                            facets[fieldname][value] += c
        desc = req.sort != "date_asc"
        day_of = []
        for seg in state.segments:
            seg.dates()
            day_of.append(seg.data.day_of)
        if by_relevance:
            keyed = [
                ((scores.get(o, 0.0), day_of[records[o][0]][records[o][1]]), o) for o in result_ids
            ]
        else:
            sign = 1 if desc else -1
            keyed = [((sign * day_of[records[o][0]][records[o][1]], 0), o) for o in result_ids]
        top = heapq.nlargest(need, keyed)[need - req.page_size :]
        hits = self._hits(
            state,
            req,
            plan,
            [(*records[o], scores.get(o) if by_relevance else None) for _, o in top],
            evidence={o: best_doc[o] for _, o in top if o in best_doc},
            ordinals=[o for _, o in top],
        )
        return SearchResult(
            hits=hits,
            total=len(result_ids),
            total_is_estimate=False,
            facets={f: dict(c.most_common()) for f, c in facets.items()},
        )

    # hits and snippets

    def _hits(self, state, req, plan, picks, evidence=None, ordinals=None) -> list[SearchHit]:
        highlighter = Highlighter(plan.words, req.exact) if req.snippets and plan.words else None
        hits = []
        for i, (si, d, score) in enumerate(picks):
            seg = state.segments[si]
            with seg.lock:
                stored = seg.reader.stored_fields(d)
            hit = SearchHit(
                id=stored["id"],
                kind=stored["kind"],
                dossier_id=stored["dossier_id"],
                score=None if score is None else round(score, 4),
            )
            if highlighter is not None:
                hit.highlights = _highlights(highlighter, stored)
                if evidence and ordinals:
                    best = evidence.get(ordinals[i])
                    if best and best != (si, d):
                        eseg = state.segments[best[0]]
                        with eseg.lock:
                            doc = eseg.reader.stored_fields(best[1])
                        snippet = _highlights(highlighter, doc)
                        text = snippet.get("body") or snippet.get("title")
                        if text:
                            hit.highlights["document"] = text
            hits.append(hit)
        return hits


def _highlights(highlighter: Highlighter, stored: dict) -> dict[str, str]:
    title, number, fields_text, body = stored["src"]
    out = {}
    for name, text, whole in (
        ("title", title, True),
        ("number", number, True),
        ("fields_text", fields_text, False),
        ("body", body, False),
    ):
        if text:
            marked = highlighter.whole(text) if whole else highlighter.snippet(text)
            if marked:
                out[name] = marked
    return out
