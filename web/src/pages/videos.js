// Videos: the file goes straight from the browser to the upload URL the API returns (Blob Storage in Azure; the
// dev host's signed URL locally), never through the app, with a progress bar; then the probe's facts and each
// channel's fitness verdict with what to fix.
import { api, ApiProblem, query } from "../api.js";
import { h, replace } from "../dom.js";
import * as format from "../format.js";
import { announce, badge, button, card, clearProblem, emptyState, field, pageHeader, problemBanner, progress, showProblem } from "../ui.js";

const VERDICTS = {
  fits: ["Fits", "good"],
  fits_with_warnings: ["Fits, with warnings", "warn"],
  needs_fixes: ["Needs fixes", "bad"],
};
const STATUS = { pending: ["Waiting for upload", "neutral"], analyzing: ["Analysing", "accent"], ready: ["Analysed", "good"], failed: ["Failed", "bad"] };
const CHECK_MARK = { pass: "✓", warn: "!", fail: "✗" };

function guessType(file) {
  if (file.type) return file.type;
  const extension = file.name.split(".").pop().toLowerCase();
  return { mp4: "video/mp4", m4v: "video/x-m4v", mov: "video/quicktime", webm: "video/webm", mkv: "video/x-matroska", "3gp": "video/3gpp" }[extension] || "application/octet-stream";
}

function facts(probe) {
  const audio = probe.audio ? `${probe.audio.codec}, ${probe.audio.channels} ch` : "none";
  const rows = [
    ["Duration", probe.duration_seconds === null ? "unknown" : `${probe.duration_seconds.toFixed(1)} s`],
    ["Resolution", `${probe.display_width} × ${probe.display_height}${probe.rotation ? ` (rotated ${probe.rotation}°)` : ""}`],
    ["Frame rate", probe.frame_rate ? `${probe.frame_rate.toFixed(2)} fps` : "unknown"],
    ["Video", [probe.video_codec, probe.video_profile].filter(Boolean).join(" ")],
    ["Audio", audio],
    ["Bitrate", probe.bitrate_bps ? `${(probe.bitrate_bps / 1e6).toFixed(2)} Mbit/s` : "unknown"],
    ["Fast start", probe.fast_start ? "yes" : "no"],
    ["Container", probe.container],
  ];
  return h("dl", { class: "facts compact" }, rows.map(([k, v]) => h("div", {}, h("dt", {}, k), h("dd", {}, v))));
}

function fitness(channels) {
  return h("div", { class: "channels" }, channels.map((c) => {
    const [label, tone] = VERDICTS[c.verdict] ?? [c.verdict, "neutral"];
    return h("section", { class: "channel", dataset: { channel: c.channel, verdict: c.verdict } },
      h("header", {}, h("h4", {}, c.label), badge(label, tone)),
      h("ul", { class: "checks" }, c.checks.map((check) => h("li", { class: `check check-${check.status}` },
        h("span", { class: "check-mark", "aria-label": check.status }, CHECK_MARK[check.status] ?? "•"),
        h("div", {},
          h("p", {}, h("strong", {}, check.rule), " — ", check.measured),
          check.fix ? h("p", { class: "fix" }, "Fix: ", check.fix) : null)))));
  }));
}

/** A video with its status, facts and verdicts. */
export function videoCard(video) {
  const [label, tone] = STATUS[video.status] ?? [video.status, "neutral"];
  return h("article", { class: "video", dataset: { videoId: video.id, status: video.status } },
    h("header", {}, h("h3", {}, video.file_name), badge(label, tone)),
    h("p", { class: "muted" }, `${format.bytes(video.size_bytes)} · uploaded ${format.instant(video.created_at)}`),
    video.status === "failed" ? h("p", { class: "banner banner-error" }, video.failure_reason || "The file could not be analysed.") : null,
    video.probe ? facts(video.probe) : null,
    video.fitness ? fitness(video.fitness) : null);
}

/** PUTs the file to the upload URL with XHR, whose upload events give progress (fetch has none). */
function put(upload, file, onProgress) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open(upload.method, upload.url);
    for (const [name, value] of Object.entries(upload.headers)) xhr.setRequestHeader(name, value);
    xhr.upload.addEventListener("progress", (e) => onProgress(e.loaded, e.lengthComputable ? e.total : file.size));
    xhr.addEventListener("load", () => (xhr.status >= 200 && xhr.status < 300 ? resolve() : reject(new Error(`The upload was refused (${xhr.status}).`))));
    xhr.addEventListener("error", () => reject(new Error("The upload failed: the storage could not be reached.")));
    xhr.send(file);
  });
}

async function waitForAnalysis(id, onUpdate) {
  for (let attempt = 0; attempt < 120; attempt++) {
    const video = await api(`/api/v1/videos/${id}`);
    onUpdate(video);
    if (video.status === "ready" || video.status === "failed") return video;
    await new Promise((r) => setTimeout(r, attempt < 20 ? 500 : 2000));
  }
  return null;
}

function uploadForm(productId, onDone) {
  const file = field({ label: "Video file", name: "file_name", type: "file", accept: "video/*,.mkv,.m4v,.3gp", required: true, hint: "MP4, MOV, WebM or MKV. The file goes straight to storage." });
  const submit = button("Upload and analyse", { kind: "primary", type: "submit" });
  const bar = progress("Upload progress");
  bar.hidden = true;
  const result = h("div", { class: "upload-result" });
  const form = h("form", { class: "stack upload" }, h("div", { class: "form-problem" }), file, h("div", { class: "row" }, submit), bar, result);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearProblem(form);
    const chosen = file.input.files[0];
    if (!chosen) {
      file.setError("Choose a video file first.");
      return;
    }
    submit.disabled = true;
    replace(result);
    try {
      const created = await api("/api/v1/videos", {
        method: "POST",
        body: { file_name: chosen.name, content_type: guessType(chosen), size_bytes: chosen.size, product_id: productId || undefined },
      });
      bar.hidden = false;
      bar.set(0, chosen.size, "Uploading…");
      await put(created.upload, chosen, (done, total) => bar.set(done, total, `Uploading… ${format.bytes(done)} of ${format.bytes(total)}`));
      bar.set(chosen.size, chosen.size, "Uploaded. Analysing…");
      const video = await waitForAnalysis(created.id, (v) => replace(result, videoCard(v)));
      bar.set(chosen.size, chosen.size, video ? "Done." : "Still analysing; it will appear in the list below.");
      announce(video?.status === "ready" ? "The video is analysed." : "The upload finished.");
      onDone();
    } catch (problem) {
      if (problem instanceof ApiProblem) {
        showProblem(form, problem);
      } else {
        replace(result, problemBanner({ title: "Upload failed", detail: problem.message }));
      }
    } finally {
      submit.disabled = false;
    }
  });
  return form;
}

export async function videosPage(params) {
  const productId = params.get("product");
  const list = h("div", { class: "video-list" });
  const refresh = async () => {
    try {
      const page = await api(`/api/v1/videos${query({ limit: 50 })}`);
      replace(list, page.items.length
        ? page.items.map((v) => videoCard(v))
        : emptyState("No videos yet", "Upload a product video to check it against each channel's requirements before you publish."));
    } catch (problem) {
      replace(list, problemBanner(problem, refresh));
    }
  };
  await refresh();
  return h("div", { class: "page" },
    pageHeader("Videos", "Check product videos against each channel's requirements: aspect ratio, length, resolution, audio, fast start."),
    card(productId ? "Upload a video for this product" : "Upload a video", uploadForm(productId, refresh)),
    card("Your videos", list));
}
