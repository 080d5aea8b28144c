"""Run under tests/ops/mdwe_exec.py: the native libraries langso loads do real work (not only
import) - OpenCV motion + HOG + JPEG, PyAV H.264 encode/decode and resampling (its FFmpeg),
numpy, PortAudio device scan - without writable+executable memory."""
import io, numpy as np, cv2, av, pyaudio
frame = (np.random.default_rng(1).random((240, 320, 3)) * 255).astype(np.uint8)
gray = cv2.GaussianBlur(cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY), (21, 21), 0)
diff = cv2.absdiff(gray, cv2.GaussianBlur(gray, (5, 5), 0))
_, mask = cv2.threshold(diff, 25, 255, cv2.THRESH_BINARY)
cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
hog = cv2.HOGDescriptor(); hog.setSVMDetector(cv2.HOGDescriptor_getDefaultPeopleDetector())
hog.detectMultiScale(cv2.resize(frame, (128, 256)))
assert cv2.imencode(".jpg", frame)[0]
buf = io.BytesIO()
with av.open(buf, "w", format="mp4") as out:
    s = out.add_stream("h264", rate=10); s.width, s.height, s.pix_fmt = 320, 240, "yuv420p"
    for i in range(10):
        for p in s.encode(av.VideoFrame.from_ndarray(np.roll(frame, i, 1), format="bgr24")): out.mux(p)
    for p in s.encode(): out.mux(p)
buf.seek(0)
with av.open(buf) as inp: n = sum(1 for _ in inp.decode(video=0))
assert n == 10, n
pcm = av.AudioResampler(format="s16", layout="mono", rate=16000)
pa = pyaudio.PyAudio(); pa.get_device_count(); pa.terminate()
print("worked", n)
