# A fixed 4x4 average pooling window (right only for 32x32 CIFAR images) instead of global average pooling.
class ResNet(ResNet):
    def forward(self, x):
        features = self.stages(self.stem(x))
        return self.fc(torch.flatten(F.avg_pool2d(features, 4), 1))
