// "Draw a digit, watch the RNN read it": the browser side of rnn_helpers.widget.DigitReader.
// An anywidget front-end module: no imports, nothing fetched at run time.
// The browser only draws and displays; Python prepares the drawing and runs the network.

const ROWS = 28;
const PLAY_MS_PER_ROW = 60;
// a few stops of Matplotlib's viridis colour map, from probability 0 to 1
const VIRIDIS = [
  [68, 1, 84], [72, 40, 120], [62, 74, 137], [49, 104, 142], [38, 130, 142],
  [31, 158, 137], [53, 183, 121], [109, 205, 89], [180, 222, 44], [253, 231, 37],
];

function viridis(p) {
  const x = Math.min(Math.max(p, 0), 1) * (VIRIDIS.length - 1);
  const i = Math.min(Math.floor(x), VIRIDIS.length - 2);
  const f = x - i;
  const c = VIRIDIS[i].map((v, k) => Math.round(v + f * (VIRIDIS[i + 1][k] - v)));
  return `rgb(${c[0]}, ${c[1]}, ${c[2]})`;
}

function element(tag, className, parent, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  if (parent) parent.appendChild(node);
  return node;
}

function render({ model, el }) {
  const root = element("div", "rnn-reader", el);

  // column 1: the canvas to draw on
  const drawColumn = element("div", "rnn-reader-column", root);
  element("div", "rnn-reader-label", drawColumn, "Draw a digit");
  const pad = element("canvas", "rnn-reader-pad", drawColumn);
  const clear = element("button", "rnn-reader-clear", drawColumn, "Clear");

  // column 2: the 28x28 image the network receives, and the row slider
  const inputColumn = element("div", "rnn-reader-column", root);
  element("div", "rnn-reader-label", inputColumn, "What the network receives (28 × 28)");
  const input = element("canvas", "rnn-reader-input", inputColumn);
  const controls = element("div", "rnn-reader-controls", inputColumn);
  const play = element("button", "rnn-reader-play", controls, "▶ Play");
  const slider = element("input", "rnn-reader-slider", controls);
  slider.type = "range";
  slider.min = "1";
  slider.max = String(ROWS);
  slider.value = String(ROWS);
  const rowLabel = element("div", "rnn-reader-row", inputColumn);

  // column 3: the probabilities after each row (map) and after the current row (bars)
  const probColumn = element("div", "rnn-reader-column", root);
  element("div", "rnn-reader-label", probColumn, "Class probabilities after each row");
  const map = element("canvas", "rnn-reader-map", probColumn);
  element("div", "rnn-reader-caption", probColumn, "rows read: 1 → 28; bright = likely");
  const bars = element("div", "rnn-reader-bars", probColumn);

  const answer = element("div", "rnn-reader-answer", root);
  const note = element("div", "rnn-reader-note", root);
  const error = element("div", "rnn-reader-error", root);

  const inputScale = 6;
  input.width = input.height = ROWS * inputScale;
  const mapCell = { w: 7, h: 14 };

  let strokes = [];
  let current = null; // the stroke being drawn
  let row = ROWS;
  let timer = null;

  // --- drawing ---------------------------------------------------------------------------
  function padSize() {
    return model.get("canvas_size");
  }

  function paintPad() {
    const size = padSize();
    if (pad.width !== size) pad.width = pad.height = size;
    const ctx = pad.getContext("2d");
    ctx.fillStyle = "#fff";
    ctx.fillRect(0, 0, size, size);
    ctx.strokeStyle = "#000";
    ctx.fillStyle = "#000";
    ctx.lineWidth = model.get("line_width");
    ctx.lineCap = ctx.lineJoin = "round";
    for (const stroke of current ? [...strokes, current] : strokes) {
      if (stroke.length === 1) {
        ctx.beginPath();
        ctx.arc(stroke[0][0], stroke[0][1], ctx.lineWidth / 2, 0, 2 * Math.PI);
        ctx.fill();
        continue;
      }
      ctx.beginPath();
      ctx.moveTo(stroke[0][0], stroke[0][1]);
      for (const [x, y] of stroke.slice(1)) ctx.lineTo(x, y);
      ctx.stroke();
    }
  }

  function point(event) {
    const box = pad.getBoundingClientRect();
    const scale = pad.width / box.width;
    const x = (event.clientX - box.left) * scale;
    const y = (event.clientY - box.top) * scale;
    return [Math.round(x * 10) / 10, Math.round(y * 10) / 10];
  }

  function send() {
    model.set("strokes", strokes.map((stroke) => stroke.slice()));
    model.save_changes();
  }

  pad.addEventListener("pointerdown", (event) => {
    event.preventDefault();
    pad.setPointerCapture(event.pointerId);
    current = [point(event)];
    paintPad();
  });
  pad.addEventListener("pointermove", (event) => {
    if (!current) return;
    current.push(point(event));
    paintPad();
  });
  function finish() {
    if (!current) return;
    strokes.push(current);
    current = null;
    paintPad();
    send();
  }
  pad.addEventListener("pointerup", finish);
  pad.addEventListener("pointercancel", finish);
  clear.addEventListener("click", () => {
    strokes = [];
    current = null;
    paintPad();
    send();
  });

  // --- what the network sees and says -------------------------------------------------------
  function paintInput() {
    const ctx = input.getContext("2d");
    const image = model.get("image");
    ctx.fillStyle = "#fff";
    ctx.fillRect(0, 0, input.width, input.height);
    if (image.length !== ROWS) return;
    for (let r = 0; r < ROWS; r++) {
      for (let c = 0; c < image[r].length; c++) {
        const v = Math.round(255 * (1 - image[r][c]));
        // rows not read yet are shown faded
        const shade = r < row ? v : Math.round(255 - (255 - v) * 0.25);
        ctx.fillStyle = `rgb(${shade}, ${shade}, ${shade})`;
        ctx.fillRect(c * inputScale, r * inputScale, inputScale, inputScale);
      }
    }
    ctx.strokeStyle = "#d62728";
    ctx.lineWidth = 2;
    ctx.strokeRect(1, (row - 1) * inputScale, input.width - 2, inputScale);
  }

  function paintMap() {
    // rows read from left to right, one line per class, class names in the left margin
    const names = model.get("class_names");
    const probabilities = model.get("probabilities");
    const margin = 18;
    map.width = margin + ROWS * mapCell.w;
    map.height = names.length * mapCell.h;
    const ctx = map.getContext("2d");
    ctx.fillStyle = "#fff";
    ctx.fillRect(0, 0, map.width, map.height);
    ctx.fillStyle = "#f4f4f4";
    ctx.fillRect(margin, 0, map.width - margin, map.height);
    ctx.fillStyle = "#222";
    ctx.font = "10px sans-serif";
    ctx.textAlign = "right";
    ctx.textBaseline = "middle";
    names.forEach((name, c) => ctx.fillText(name, margin - 4, (c + 0.5) * mapCell.h, margin - 4));
    probabilities.forEach((after, r) => {
      after.forEach((p, c) => {
        ctx.fillStyle = viridis(p);
        ctx.fillRect(margin + r * mapCell.w, c * mapCell.h, mapCell.w, mapCell.h);
      });
    });
    if (probabilities.length) {
      ctx.strokeStyle = "#d62728";
      ctx.lineWidth = 2;
      ctx.strokeRect(margin + (row - 1) * mapCell.w, 1, mapCell.w, map.height - 2);
    }
  }

  function paintBars() {
    const names = model.get("class_names");
    const probabilities = model.get("probabilities");
    const after = probabilities.length ? probabilities[row - 1] : names.map(() => 0);
    const best = after.indexOf(Math.max(...after));
    bars.replaceChildren();
    names.forEach((name, c) => {
      const line = element("div", "rnn-reader-bar-line", bars);
      element("span", "rnn-reader-bar-name", line, name);
      const track = element("span", "rnn-reader-bar-track", line);
      const bar = element("span", "rnn-reader-bar", track);
      bar.style.width = `${(100 * after[c]).toFixed(1)}%`;
      if (probabilities.length && c === best) bar.classList.add("rnn-reader-bar-best");
      element("span", "rnn-reader-bar-value", line, probabilities.length ? `${Math.round(100 * after[c])}%` : "");
    });
  }

  function paintAnswer() {
    const names = model.get("class_names");
    const prediction = model.get("prediction");
    answer.dataset.prediction = String(prediction);
    if (prediction < 0) {
      answer.textContent = "Draw a digit in the white square (hold the mouse button down).";
      rowLabel.textContent = "";
      return;
    }
    const probabilities = model.get("probabilities");
    const after = probabilities[row - 1];
    const guess = after.indexOf(Math.max(...after));
    answer.textContent =
      `The RNN reads: ${names[prediction]} (${Math.round(100 * model.get("confidence"))}% after all ${ROWS} rows)`;
    rowLabel.textContent = `after row ${row} of ${ROWS}: ${names[guess]} (${Math.round(100 * after[guess])}%)`;
  }

  function paintAll() {
    slider.value = String(row);
    paintInput();
    paintMap();
    paintBars();
    paintAnswer();
  }

  function stop() {
    if (timer !== null) clearInterval(timer);
    timer = null;
    play.textContent = "▶ Play";
  }

  function start() {
    stop();
    if (!model.get("probabilities").length) return;
    row = 1;
    paintAll();
    play.textContent = "■ Stop";
    timer = setInterval(() => {
      if (row >= ROWS) return stop();
      row += 1;
      paintAll();
    }, PLAY_MS_PER_ROW);
  }

  play.addEventListener("click", () => (timer === null ? start() : stop()));
  slider.addEventListener("input", () => {
    stop();
    row = Number(slider.value);
    paintAll();
  });

  function onStrokes() {
    if (current) return; // a stroke in progress wins; it is sent when it ends
    strokes = model.get("strokes").map((stroke) => stroke.slice());
    paintPad();
  }
  function onReading() {
    stop();
    row = ROWS;
    paintAll();
    if (model.get("probabilities").length) start(); // watch it read the new drawing
  }
  function onText() {
    note.textContent = model.get("note");
    error.textContent = model.get("error");
  }

  model.on("change:strokes", onStrokes);
  model.on("change:probabilities", onReading);
  model.on("change:prediction", paintAnswer);
  model.on("change:note", onText);
  model.on("change:error", onText);
  onStrokes();
  onText();
  paintAll();

  return () => {
    stop();
    model.off("change:strokes", onStrokes);
    model.off("change:probabilities", onReading);
    model.off("change:prediction", paintAnswer);
    model.off("change:note", onText);
    model.off("change:error", onText);
  };
}

export default { render };
