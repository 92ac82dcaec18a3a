// The edit mask: painted with a brush (and an eraser) on a canvas laid over the source image, at the
// image's own pixel size; sent as OpenAI's mask, a PNG whose alpha = 0 marks the area to repaint.

export class MaskPainter {
  constructor(canvas) {
    this.canvas = canvas;
    this.ctx = canvas.getContext('2d');
    this.tool = 'brush';
    this.radius = 8;
    this.painted = false;
    this.last = null;
    canvas.addEventListener('pointerdown', (e) => this.down(e));
    canvas.addEventListener('pointermove', (e) => this.move(e));
    canvas.addEventListener('pointerup', (e) => this.up(e));
    canvas.addEventListener('pointercancel', (e) => this.up(e));
  }

  /** Starts a blank mask for an image of this size. */
  reset(width, height) {
    this.canvas.width = width;
    this.canvas.height = height;
    this.radius = Math.max(2, Math.round(Math.min(width, height) / 10));
    this.clear();
  }

  clear() {
    this.ctx.clearRect(0, 0, this.canvas.width, this.canvas.height);
    this.painted = false;
    this.changed();
  }

  /** Marks the whole image for repainting (the keyboard's way to a full mask). */
  fill() {
    this.ctx.globalCompositeOperation = 'source-over';
    this.ctx.fillStyle = '#ff2d6f';
    this.ctx.fillRect(0, 0, this.canvas.width, this.canvas.height);
    this.painted = true;
    this.changed();
  }

  changed() {
    this.canvas.dispatchEvent(new CustomEvent('maskchange'));
  }

  point(e) {
    const r = this.canvas.getBoundingClientRect();
    return [(e.clientX - r.left) * this.canvas.width / r.width, (e.clientY - r.top) * this.canvas.height / r.height];
  }

  down(e) {
    if (!this.canvas.width) return;
    this.canvas.setPointerCapture(e.pointerId);
    this.last = this.point(e);
    this.stroke(this.last, this.last);
    e.preventDefault();
  }

  move(e) {
    if (!this.last) return;
    const p = this.point(e);
    this.stroke(this.last, p);
    this.last = p;
  }

  up(e) {
    if (!this.last) return;
    this.last = null;
    if (this.canvas.hasPointerCapture(e.pointerId)) this.canvas.releasePointerCapture(e.pointerId);
    this.painted = this.hasPaint();
    this.changed();
  }

  stroke([x0, y0], [x1, y1]) {
    const c = this.ctx;
    c.globalCompositeOperation = this.tool === 'eraser' ? 'destination-out' : 'source-over';
    c.strokeStyle = '#ff2d6f';
    c.fillStyle = '#ff2d6f';
    c.lineWidth = this.radius * 2;
    c.lineCap = 'round';
    c.beginPath();
    c.moveTo(x0, y0);
    c.lineTo(x1, y1);
    c.stroke();
    c.beginPath();
    c.arc(x1, y1, this.radius, 0, Math.PI * 2);
    c.fill();
  }

  hasPaint() {
    const data = this.ctx.getImageData(0, 0, this.canvas.width, this.canvas.height).data;
    for (let i = 3; i < data.length; i += 4) if (data[i] !== 0) return true;
    return false;
  }

  /** OpenAI's mask as a PNG Blob: opaque black where the image is kept, alpha 0 where it is painted. */
  async toMaskPng() {
    const out = document.createElement('canvas');
    out.width = this.canvas.width;
    out.height = this.canvas.height;
    const c = out.getContext('2d');
    c.fillStyle = '#000';
    c.fillRect(0, 0, out.width, out.height);
    c.globalCompositeOperation = 'destination-out';
    c.drawImage(this.canvas, 0, 0);
    return new Promise((resolve) => out.toBlob(resolve, 'image/png'));
  }
}
