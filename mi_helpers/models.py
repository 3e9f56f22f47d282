"""The course's small models: each trains in seconds on a laptop CPU."""
from __future__ import annotations

from torch import nn


class SmallCNN(nn.Module):
    """Two conv blocks and a linear read-out, with every activation a named module.

    Input [batch, in_channels, H, W] with H and W divisible by 4; output logits
    [batch, n_classes]. Names to hook: conv1, relu1, pool1, conv2, relu2, pool2, fc.
    """

    def __init__(self, in_channels: int = 1, n_classes: int = 10, channels: tuple[int, int] = (8, 16),
                 image_size: int = 8):
        super().__init__()
        c1, c2 = channels
        self.conv1 = nn.Conv2d(in_channels, c1, kernel_size=3, padding=1)
        self.relu1 = nn.ReLU()
        self.pool1 = nn.MaxPool2d(2)
        self.conv2 = nn.Conv2d(c1, c2, kernel_size=3, padding=1)
        self.relu2 = nn.ReLU()
        self.pool2 = nn.MaxPool2d(2)
        self.flatten = nn.Flatten()
        self.fc = nn.Linear(c2 * (image_size // 4) ** 2, n_classes)

    def forward(self, x):
        x = self.pool1(self.relu1(self.conv1(x)))
        x = self.pool2(self.relu2(self.conv2(x)))
        return self.fc(self.flatten(x))
