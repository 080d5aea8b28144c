"""Person tags: OpenCV's built-in HOG people detector (no model download), run only
on the moving parts of a frame, each crop scaled so a person fills the 64x128 window."""
from __future__ import annotations

import cv2
import numpy as np

WINDOW_H = 128
PERSON_H = 120        # the moving box is scaled to this height: a person fills the window at the
                      # first pyramid levels (taller crops cost more levels: 2.6x the CPU for the same hits)
MIN_WEIGHT = 0.5      # SVM margin a hit needs to count


class PersonDetector:
    def __init__(self) -> None:
        self._hog = cv2.HOGDescriptor()
        self._hog.setSVMDetector(cv2.HOGDescriptor_getDefaultPeopleDetector())

    def find(self, grey: np.ndarray, boxes: list[list[int]], enough: float = MIN_WEIGHT) -> float:
        """HOG weight of a person among the moving boxes of a full-resolution grey frame
        (0 = none): the largest boxes first (at most 4), done at the first weight >= `enough`."""
        best = 0.0
        height, width = grey.shape[:2]
        for x, y, w, h in sorted(boxes, key=lambda b: b[2] * b[3], reverse=True)[:4]:
            if h < 24 or w < 8:
                continue
            pad_y, pad_x = h // 5 + 8, max(w // 3, h // 5) + 8
            x0, y0 = max(x - pad_x, 0), max(y - pad_y, 0)
            x1, y1 = min(x + w + pad_x, width), min(y + h + pad_y, height)
            crop = grey[y0:y1, x0:x1]
            scale = min(max(PERSON_H / max(h, 1), 0.25), 3.0)
            crop = cv2.resize(crop, None, fx=scale, fy=scale, interpolation=cv2.INTER_LINEAR)
            if crop.shape[0] < WINDOW_H or crop.shape[1] < 64:
                continue
            _, weights = self._hog.detectMultiScale(crop, winStride=(8, 8), padding=(0, 0), scale=1.2)
            if len(weights):
                best = max(best, float(np.max(weights)))
                if best >= enough:
                    break
        return best
