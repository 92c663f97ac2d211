"""The app's building blocks: each function draws one part of the page with Streamlit.

They only display what they are given (scans are already de-identified, predictions already
made), except :func:`explanation`, which sends the occluded variants to Triton on request.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from client.contract import ModelInfo, Prediction
from client.errors import TritonError
from client.occlusion import overlay, sensitivity_map
from client.report import DISCLAIMER, format_csv, prediction_rows
from client.triton import TritonClassifier
from imaging.classes import CLASS_DESCRIPTIONS, CLASS_NAMES
from imaging.hounsfield import LungWindow
from imaging.lung_likeness import NOT_LUNG_WARNING
from imaging.scan import Scan, resize_image, to_model_input

# Plain glyphs, not emoji: browsers without an emoji font would show empty boxes.
READY = ":green[● ready]"
NOT_READY = ":red[● not reachable]"
CLASS_TITLES = {
    "NT": "Normal tissue (NT)",
    "CLE": "Centrilobular emphysema (CLE)",
    "PSE": "Paraseptal emphysema (PSE)",
    "PLE": "Panlobular emphysema (PLE)",
}


def unavailable_banner(url: str, detail: str | None = None) -> None:
    """The clear banner shown while Triton cannot be used; the page keeps working otherwise."""
    message = detail or (
        f"Triton at {url} is not reachable — start it with `emphysema serve`, or "
        "correct the server address in the sidebar."
    )
    st.error(
        f"**The classification server is unavailable.** {message} Scans you upload now are kept "
        "(de-identified, in memory) and classified as soon as the server is back.",
        icon=":material/cloud_off:",
    )


def server_status(classifier: TritonClassifier) -> bool:
    """Show whether the server is ready in the sidebar, and return it (checked on every run)."""
    ready = classifier.is_server_ready()
    st.sidebar.markdown(f"**Server:** {READY if ready else NOT_READY}")
    return ready


def model_picker(classifier: TritonClassifier, default_model: str) -> ModelInfo | None:
    """Let the user choose a model from the repository; show its status; return its checked info."""
    try:
        names = classifier.served_models()
    except TritonError as error:
        st.sidebar.warning(str(error))
        return None
    if not names:
        st.sidebar.warning(f"Triton at {classifier.settings.url} serves no model yet.")
        return None
    index = names.index(default_model) if default_model in names else 0  # the only one, when one is served
    model = st.sidebar.selectbox("Model", names, index=index, key="model")
    try:
        info = classifier.model_info(model)
    except TritonError as error:
        st.sidebar.markdown(f"**Model:** :red[● {model} is not usable]")
        st.error(str(error))
        return None
    versions = ", ".join(info.versions) or "?"
    st.sidebar.markdown(
        f"**Model:** :green[●] {info.name} (version {versions}), input {info.image_size}×"
        f"{info.image_size}, up to {info.max_batch_size} images per request"
    )
    return info


def describe_source(model: str, info: ModelInfo | None) -> str:
    """Which model (and, when the server says, which version and field of view) gave a result."""
    return info.describe() if info is not None and info.name == model else f"model {model}"


def results_table(entries: list[dict], model: str, info: ModelInfo | None) -> None:
    """The table of every classified upload, naming the model and its version, with a CSV download."""
    results = [
        (entry["name"], entry["predictions"][model], entry["lung"])
        for entry in entries
        if model in entry["predictions"]
    ]
    if not results:
        return
    info = info if info is not None and info.name == model else None  # unknown while the server is down
    st.markdown(f"##### Results: {len(results)} scans, {describe_source(model, info)}")
    st.dataframe(pd.DataFrame(prediction_rows(results, info)), hide_index=True)
    st.download_button(
        "Download the results (CSV)",
        format_csv(results, info) + "\n",
        file_name="emphysema_predictions.csv",
        mime="text/csv",
    )
    st.caption(DISCLAIMER)


def display_window(scan: Scan) -> LungWindow:
    """Window sliders for HU scans (8-bit images are already windowed); returns the chosen window."""
    if not scan.is_hounsfield:
        st.caption("8-bit image: shown as uploaded (already windowed).")
        return LungWindow()
    default = LungWindow()
    level = st.slider("Window level (HU)", -1200, 400, int(default.level), step=10, key="window_level")
    width = st.slider("Window width (HU)", 100, 3000, int(default.width), step=50, key="window_width")
    st.caption("The window changes the display only; the model always sees the lung window W1500/L-600.")
    return LungWindow(width=float(width), level=float(level))


def prediction_summary(prediction: Prediction) -> None:
    """The predicted pattern, each class's probability as a chart, the description and the disclaimer."""
    st.caption("Predicted pattern")
    st.subheader(CLASS_TITLES[prediction.label], anchor=False)
    st.markdown(f"Probability **{prediction.confidence:.1%}**")
    chart = pd.DataFrame(
        {"class": list(CLASS_NAMES), "probability": [prediction.probabilities[name] for name in CLASS_NAMES]}
    )
    st.bar_chart(chart, x="class", y="probability", sort=False, horizontal=True, height=220)
    st.markdown(CLASS_DESCRIPTIONS[prediction.label])
    st.warning(DISCLAIMER, icon=":material/warning:")


def explanation(
    entry: dict, classifier: TritonClassifier | None, info: ModelInfo | None, window: LungWindow
) -> None:
    """The occlusion-sensitivity map, computed through Triton when asked, overlaid on the scan."""
    maps = entry.setdefault("maps", {})
    if info is not None and info.name not in maps:
        help_text = "Hides one square of the image at a time and asks the model again (batched requests)."
        if st.button("Explain: occlusion sensitivity map", help=help_text, disabled=classifier is None):
            try:
                with st.spinner("Classifying the occluded variants through Triton..."):
                    image = to_model_input(entry["scan"], info.image_size)
                    _, maps[info.name] = sensitivity_map(classifier, image, info.name)
            except TritonError as error:
                st.error(str(error))
    if info is not None and info.name in maps:
        sensitivity = maps[info.name]
        grey = resize_image(entry["scan"].windowed(window), sensitivity.shape[0])
        st.image(
            overlay(grey, sensitivity),
            caption="Red: regions the predicted class depends on "
            "(its probability drops when they are hidden).",
            width=360,
        )


def scan_detail(
    entry: dict, model: str | None, classifier: TritonClassifier | None, info: ModelInfo | None
) -> None:
    """One scan: the image in an adjustable window, and its prediction with the explanation."""
    image_column, result_column = st.columns([1, 1])
    with image_column:
        window = display_window(entry["scan"])
        st.image(entry["scan"].windowed(window), caption=entry["name"], width=360, clamp=True)
    with result_column:
        prediction = entry["predictions"].get(model) if model else None
        if prediction is None:
            st.info("Not classified yet: waiting for the classification server.")
            return
        if not entry["lung"].looks_like_lung:
            st.error(
                f"**{NOT_LUNG_WARNING[0].upper()}{NOT_LUNG_WARNING[1:]}.** {entry['lung'].reason}.",
                icon=":material/block:",
            )
        prediction_summary(prediction)
        st.caption(f"From {describe_source(model, info)}.")
        explanation(entry, classifier, info, window)
